"""The Glue door: AWS's JSON 1.1 protocol (boto3, the AWS CLI, Terraform) onto the gRPC API."""
