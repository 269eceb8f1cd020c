"""The API's routes, one module per area; each route is parse → service → schema."""
