"""Staff alerts by e-mail: overbookings, connections that need attention, bookings a platform still
waits to have acknowledged. Listens to pms_core's and channelmgr's signals; neither imports it."""
