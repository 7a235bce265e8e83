"""The reply contract between the bot, its channels and the staff side (docs/replies.md)."""
