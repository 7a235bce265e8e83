"""Web chat page, its embed script and the `/web/chat` endpoint the page talks to."""
