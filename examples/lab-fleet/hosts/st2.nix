# The configuration of systemd lab host st2; tests edit it.
{
  message = "hello from st2";
}
