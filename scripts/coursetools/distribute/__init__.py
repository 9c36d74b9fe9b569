"""Distribution without Classroom: a roster gives student repositories; a deadline collects them."""
