// fd-hold.cpp：教程“文件描述符的分配规则”一节最后的demo3：打开data.txt和一个socket，打印fd，sleep(100)以便查看/proc/进程编号/fd。
// sockfd: unchanged except sleep() -> sockfd_sleep() (see README.md) and the closing brace the listing lost.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <iostream>
#include <sys/socket.h>
#include <arpa/inet.h>
#include "sockfd_sleep.h"
using namespace std;
int main()
{
  int fd = -1;   
  char buffer[1024] = {0};
  fd=open("data.txt",O_CREAT|O_RDWR|O_TRUNC);
  if (fd==-1)
  {
    perror("open(data.txt)"); return -1;
  }
  printf("文件描述符fd=%d\n",fd);
  int sockfd = socket(AF_INET,SOCK_STREAM,0);
  printf("sockfd=%d\n",sockfd);
  strcpy(buffer,"我是一只傻傻鸟。\n");
  if (write(fd,buffer,strlen(buffer))==-1)  
  {
    perror("write()"); return -1;
  }
  sockfd_sleep(100);
  close(fd);  
}
