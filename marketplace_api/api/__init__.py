"""The HTTP layer: dependencies, the error mapping and one router per resource."""
