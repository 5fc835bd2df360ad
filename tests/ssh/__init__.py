"""Tests of sealos_provider.remote against real OpenSSH servers."""
