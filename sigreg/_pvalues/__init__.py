"""P-values: ``sigreg.test`` and the null laws it reads."""
