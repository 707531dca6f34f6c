/* heads_rename.h - the public names of httpp.c, renamed for the base build
 * that bench_heads.c runs side by side with this tree's (bench/heads.mk). */
#define httpp_init base_httpp_init
#define httpp_init_midstream base_httpp_init_midstream
#define httpp_resync_boundary base_httpp_resync_boundary
#define httpp_parse base_httpp_parse
#define httpp_gap base_httpp_gap
#define httpp_finish base_httpp_finish
#define httpp_tunnel base_httpp_tunnel
#define httpp_resume base_httpp_resume
#define httpp_in_message base_httpp_in_message
#define httpp_resyncing base_httpp_resyncing
#define httpp_has_pending base_httpp_has_pending
#define httpp_err_name base_httpp_err_name
