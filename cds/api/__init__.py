"""HTTP: the routes, request and response models, errors and middleware of the CDS Hooks API."""
