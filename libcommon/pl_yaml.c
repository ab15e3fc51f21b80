/* SPDX-License-Identifier: Apache-2.0 */
/* libyaml event reading with podlane's error messages and its no-anchors rule. */
#include "pl_yaml.h"

#include <errno.h>
#include <stdio.h>

#define ANCHOR_QUOTE_MAX 64

int pl_yaml_next_event(yaml_parser_t *p, yaml_event_t *ev, char *msg, size_t msg_size, size_t *line)
{
	const yaml_char_t *anchor = NULL;

	if (!yaml_parser_parse(p, ev)) {
		if (p->error == YAML_MEMORY_ERROR) {
			snprintf(msg, msg_size, "out of memory");
			*line = 0;
			return -ENOMEM;
		}
		if (p->error == YAML_READER_ERROR) {
			snprintf(msg, msg_size, "YAML error: %s at byte %zu",
				p->problem ? p->problem : "unreadable input", p->problem_offset);
			*line = 0;
			return -EINVAL;
		}
		snprintf(msg, msg_size, "YAML syntax error: %s%s%s%s",
			p->problem ? p->problem : "invalid YAML", p->context ? " (" : "",
			p->context ? p->context : "", p->context ? ")" : "");
		*line = p->problem_mark.line + 1;
		return -EINVAL;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		anchor = ev->data.alias.anchor;
		break;
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		break;
	default:
		break;
	}
	if (ev->type == YAML_ALIAS_EVENT || anchor) {
		snprintf(msg, msg_size, "YAML anchors and aliases are not supported (&%.*s)",
			ANCHOR_QUOTE_MAX, anchor ? (const char *)anchor : "");
		*line = ev->start_mark.line + 1;
		yaml_event_delete(ev);
		return -EINVAL;
	}
	return 0;
}
