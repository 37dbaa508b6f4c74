"""The staff calendar in the admin: per property, units by nights, and why each night is open or closed
on each platform."""
