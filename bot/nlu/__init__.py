"""Rasa graph components for Thai: tokenizer, featurizer and the service and topic classifiers."""

# Rasa imports this package when it loads or trains the model, before the first message.
from bot.patches import install

install()
