"""Geography the service keeps: geocode shapes and agency jurisdictions."""
