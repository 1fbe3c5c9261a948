"""Algorithm families; importing this package registers them all."""
