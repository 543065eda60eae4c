"""Persistence: the cards the service showed and the feedback clinicians sent about them."""
