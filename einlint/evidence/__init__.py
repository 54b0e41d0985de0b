"""Evidence about the code around a finding: what names refer to (imports) and what is known about
operands (tensor-ness, rank, literal shape). Soundness reasoning lives here, not in the rules."""
