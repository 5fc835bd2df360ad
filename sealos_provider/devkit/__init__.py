"""Local ground for end-to-end tests and the demo: Docker engine, node containers, the Pulumi CLI, local artifacts.

Never imported by the product's resources. Submodules are imported explicitly (no side effects here):
engine (ensure_engine), node_image (ensure_node_image), nodes (start_nodes, NodeSet, Node), pulumi_cli
(ensure_pulumi, pulumi_env, workspace_stack), local_artifacts (ensure_artifacts), smoke_resource (RemoteFile).
"""
