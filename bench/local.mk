# bench/: programs that print figures; never run by make check.
