"""What the learner reads: the narrator, the walkthrough, the attack lab."""
