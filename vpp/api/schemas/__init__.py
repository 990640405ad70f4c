"""Pydantic request and response bodies of the API, in Create / Update / Public families."""
