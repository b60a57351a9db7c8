"""Tags of Glue resources (TagResource, UntagResource, GetTags) and their ARNs."""
