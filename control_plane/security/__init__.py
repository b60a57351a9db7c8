"""Who is calling and what they may do: principals, tokens, policies, and the per-call record
that the authentication and audit interceptors share."""
