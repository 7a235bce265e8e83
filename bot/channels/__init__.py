"""Rasa input channels of this assistant (the REST channel; LINE and the web page are in gateway/)."""
