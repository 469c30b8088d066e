"""Converting offered images into the formats a site wants, with qemu-img, in a work directory."""
