"""Our Python package: Rasa NLU components, channels and tools of the Thai e-service assistant."""
