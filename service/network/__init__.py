"""Mobile operators and their cell inventories."""
