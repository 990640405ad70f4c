"""The edges: market gateways, device dispatch channels and exports, each implementing a port of vpp.domain.ports."""
