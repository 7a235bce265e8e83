"""LINE Messaging API channel."""
