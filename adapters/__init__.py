"""Channel adapters: each knows one platform and nothing of the domain.

Heavy SDKs are imported only inside the adapter of a channel that is enabled.
"""
