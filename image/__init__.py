"""The server's container image recipe (`python -m image.build`) and the OCI archive writer it
shares with the test fleet's images (`image.oci`). Not part of the wheel."""
