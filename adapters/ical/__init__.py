"""iCal: import a platform's RFC 5545 export as blocks, and build our own export per unit."""
