"""Custom actions (rasa_sdk): answer from the service catalogs, ask back, hand over."""
