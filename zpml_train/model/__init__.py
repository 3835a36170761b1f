"""What is trained: the projective heads, decoding, the losses, gradient policies."""
