# The configuration of lab host t3; tests edit the message to change it.
{
  message = "hello from t3";
}
