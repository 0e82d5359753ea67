"""Talking to OpenMetadata: the HTTP client (om_client), authentication and identity providers
(auth, sso), the connection stored on the service, and the ingestion pipeline's run status."""
