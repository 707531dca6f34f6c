# Output on a full disk (a real 1 MiB tmpfs): no partial line, drops counted,
# writes recover when space returns.  Needs root (mount).
if sh "$ROOT/tests/sink/output_fulldisk.sh" "$BUILD" > "$TMP/fulldisk.out" 2>&1; then
	pass "output: full disk: $(tail -1 "$TMP/fulldisk.out")"
else
	cat "$TMP/fulldisk.out"; fail "output: full disk"
fi
