/* event.c - the kernel event validator; see event.h. */
#include "event.h"

#include <errno.h>
#include <string.h>

#include "ht_event.h"

size_t ht_event_size(uint8_t type, uint32_t cap_len)
{
	switch (type) {
	case HT_EV_DATA:
		return sizeof(struct ht_data_ev) + (size_t)cap_len;
	case HT_EV_OPEN:
		return sizeof(struct ht_open_ev);
	case HT_EV_CLOSE:
		return sizeof(struct ht_close_ev);
	case HT_EV_LOSS:
		return sizeof(struct ht_loss_ev);
	default:
		return 0;
	}
}

int ht_event_check(const void *rec, size_t len)
{
	const uint8_t *p = rec;
	uint32_t cap_len = 0, full_len = 0;

	if (!rec || len < sizeof(struct ht_ev_hdr))
		return -EINVAL;
	if (p[0] == HT_EV_DATA) {
		if (len < sizeof(struct ht_data_ev))
			return -EINVAL;
		/* records may sit unaligned in a file block: copy, never cast */
		memcpy(&cap_len, p + offsetof(struct ht_data_ev, cap_len), sizeof(cap_len));
		memcpy(&full_len, p + offsetof(struct ht_data_ev, len), sizeof(full_len));
		if (cap_len > full_len)
			return -EINVAL;
	}
	return ht_event_size(p[0], cap_len) == len ? 0 : -EINVAL;
}
