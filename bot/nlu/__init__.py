"""Rasa graph components for Thai: tokenizer, featurizer and the service and topic classifiers."""

# The Rasa server imports this package when it loads the model, before the first message.
from bot import rasa_patches  # noqa: F401
