"""Plugins the Rasa server loads: NLU components, the REST channel, tracker and lock stores, patches."""
