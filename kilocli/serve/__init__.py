"""`kilo serve`: the router behind the OpenAI Chat Completions and Anthropic Messages APIs.

request.py (what a request is, model aliases) · openai_api.py / anthropic_api.py (the wires) ·
sticky.py (which conversation a request continues) · turns.py (decide, call, record) ·
auth.py (loopback or bearer token) · app.py (routes) · server.py (uvicorn, shutdown).
"""
