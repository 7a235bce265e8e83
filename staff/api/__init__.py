"""The staff side's HTTP routers, mounted by gateway/app.py (the shapes: ../shared/spec/staff-api.md)."""
