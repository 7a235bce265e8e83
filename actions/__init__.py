"""Custom actions for the action server (rasa-sdk alone): answer from the catalogs, ask back, hand over."""
