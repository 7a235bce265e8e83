"""Rasa graph components for Thai: tokenizer, featurizer and the service and topic classifiers."""
