/* methods.c - the method table: one sorted row per method of service
 * OrgDirectory, matched one-to-one with the protobuf-c service descriptor
 * at start-up, so a method added to the .proto without a handler (or the
 * reverse) stops the server from starting instead of failing at run time. */
#include <string.h>

#include "server.h"

static od_method table[] = {
    /* Not OD_M_WRITE: the copy runs on a thread of its own (h_transfer.c). */
    {"Backup", od_h_backup, OD_M_READ, ORGDIR__V1__ROLE__ADMIN, NULL},
    {"CreateToken", od_h_create_token, OD_M_WRITE, ORGDIR__V1__ROLE__ADMIN, NULL},
    {"CreateUnit", od_h_create_unit, OD_M_WRITE, ORGDIR__V1__ROLE__EDITOR, NULL},
    {"DeleteToken", od_h_delete_token, OD_M_WRITE, ORGDIR__V1__ROLE__ADMIN, NULL},
    {"DeleteUnit", od_h_delete_unit, OD_M_WRITE, ORGDIR__V1__ROLE__EDITOR, NULL},
    {"ExportDirectory", od_h_export_directory, OD_M_READ, ORGDIR__V1__ROLE__READER, NULL},
    {"GetAncestors", od_h_get_ancestors, OD_M_READ, ORGDIR__V1__ROLE__READER, NULL},
    {"GetCountry", od_h_get_country, OD_M_READ, ORGDIR__V1__ROLE__READER, NULL},
    {"GetStats", od_h_get_stats, OD_M_READ, ORGDIR__V1__ROLE__READER, NULL},
    {"GetSubtree", od_h_get_subtree, OD_M_READ, ORGDIR__V1__ROLE__READER, NULL},
    {"GetUnit", od_h_get_unit, OD_M_READ, ORGDIR__V1__ROLE__READER, NULL},
    {"Health", od_h_health, OD_M_READ | OD_M_NOSTORE | OD_M_OPEN, ORGDIR__V1__ROLE__READER, NULL},
    {"ImportDirectory", od_h_import_directory, OD_M_WRITE, ORGDIR__V1__ROLE__ADMIN, NULL},
    {"ListChanges", od_h_list_changes, OD_M_READ, ORGDIR__V1__ROLE__READER, NULL},
    {"ListCountries", od_h_list_countries, OD_M_READ, ORGDIR__V1__ROLE__READER, NULL},
    {"ListTokens", od_h_list_tokens, OD_M_READ, ORGDIR__V1__ROLE__ADMIN, NULL},
    {"ListUnits", od_h_list_units, OD_M_READ, ORGDIR__V1__ROLE__READER, NULL},
    {"MoveUnit", od_h_move_unit, OD_M_WRITE, ORGDIR__V1__ROLE__EDITOR, NULL},
    {"Search", od_h_search, OD_M_READ, ORGDIR__V1__ROLE__READER, NULL},
    {"ServerInfo", od_h_server_info, OD_M_READ, ORGDIR__V1__ROLE__READER, NULL},
    {"UpdateCountry", od_h_update_country, OD_M_WRITE, ORGDIR__V1__ROLE__EDITOR, NULL},
    {"UpdateUnit", od_h_update_unit, OD_M_WRITE, ORGDIR__V1__ROLE__EDITOR, NULL},
    {"WatchChanges", od_h_watch_changes, OD_M_READ, ORGDIR__V1__ROLE__READER, NULL},
};

orgdir_code
od_methods_init(orgdir_status *st)
{
	const ProtobufCServiceDescriptor *sd = &orgdir__v1__org_directory__descriptor;
	if (sd->n_methods != OD_ARRAY_LEN(table)) {
		return od_status_set(st, ORGDIR_INTERNAL,
		    "method table has %zu rows but service %s has %u methods", OD_ARRAY_LEN(table),
		    sd->name, sd->n_methods);
	}
	for (size_t i = 0; i < OD_ARRAY_LEN(table); i++) {
		if (i > 0 && strcmp(table[i - 1].name, table[i].name) >= 0) {
			return od_status_set(
			    st, ORGDIR_INTERNAL, "method table not sorted at %s", table[i].name);
		}
		table[i].desc = protobuf_c_service_descriptor_get_method_by_name(sd, table[i].name);
		if (table[i].desc == NULL) {
			return od_status_set(st, ORGDIR_INTERNAL, "method %s is not in service %s",
			    table[i].name, sd->name);
		}
	}
	return ORGDIR_OK;
}

const od_method *
od_method_find(const char *name)
{
	size_t lo = 0;
	size_t hi = OD_ARRAY_LEN(table);
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(name, table[mid].name);
		if (c == 0) {
			return &table[mid];
		}
		if (c < 0) {
			hi = mid;
		} else {
			lo = mid + 1;
		}
	}
	return NULL;
}

size_t
od_method_count(void)
{
	return OD_ARRAY_LEN(table);
}

const od_method *
od_method_at(size_t i)
{
	return i < OD_ARRAY_LEN(table) ? &table[i] : NULL;
}
