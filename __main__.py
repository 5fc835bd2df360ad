"""The ready stack: everything comes from stack config; see sealos_provider/stack.py and Pulumi.yaml."""

from sealos_provider.stack import program

program()
