"""The staff side: accounts, handoff to call-centre agents, agent assist (docs/staff.md).

Served by the gateway on its own origin (../shared/spec/staff-api.md fixes the JSON API).
"""
