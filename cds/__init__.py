"""HTTP side of the phantom limb pain CDS Hooks service."""
