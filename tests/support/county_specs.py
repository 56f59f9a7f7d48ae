"""A county-declared layer spec the shared-state tests declare (not among the built-ins)."""

BENCHES_TOML = """name = "benches"
kind = "work"
geometry = ["Point"]
id_prefix = "BN"
label = { zh = "村口长椅", en = "Village benches" }

[[fields]]
name = "seats"
type = "integer"
required = true
label = { zh = "座位数", en = "Seats" }
"""
