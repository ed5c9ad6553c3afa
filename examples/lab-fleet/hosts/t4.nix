# The configuration of lab host t4; tests edit the message to change it.
{
  message = "hello from t4";
}
