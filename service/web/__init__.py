"""The emergency managers' dashboard: static HTML, JS and CSS over the JSON API."""
