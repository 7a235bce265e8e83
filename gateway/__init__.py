"""Citizen channels (LINE and the web chat page) in front of the Rasa assistant."""

__all__ = ["__version__"]

__version__ = "0.1.0"
